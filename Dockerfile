# SPIKE on Deno: one image with every program as a standalone binary, run as a non-root user.
#
#   docker build -t spike-deno .
#   docker run ... spike-deno nexus      (or keeper, bootstrap, spike, agent)
#
# The build stage compiles with `deno compile`, which downloads Deno's runtime once.

FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY lib ./lib
COPY nexus ./nexus
COPY keeper ./keeper
COPY bootstrap ./bootstrap
COPY pilot ./pilot
COPY dev ./dev
COPY launch ./launch
COPY scripts ./scripts
RUN deno install --frozen
# Permissions are baked into each binary (scripts/release.ts, launch/flags.ts), with HOME as in the image.
RUN deno run --allow-read --allow-write=/dist --allow-run=deno --allow-env=HOME \
      scripts/release.ts compile --out /dist --home /home/spike

FROM debian:12-slim
RUN useradd --create-home --home-dir /home/spike --uid 10001 --user-group spike \
 && mkdir -p /home/spike/.spike/data \
 && chown -R spike:spike /home/spike/.spike \
 && chmod 0700 /home/spike/.spike /home/spike/.spike/data
COPY --from=build /dist/nexus /dist/keeper /dist/bootstrap /dist/spike /dist/agent /usr/local/bin/
USER spike
WORKDIR /home/spike
ENV HOME=/home/spike
VOLUME ["/home/spike/.spike/data"]
EXPOSE 8553 8443
CMD ["nexus"]
