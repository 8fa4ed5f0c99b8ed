/** The version of every SPIKE program in this repository. */
export const VERSION = "0.1.0";
