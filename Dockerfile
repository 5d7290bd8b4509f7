# syntax=docker/dockerfile:1

# ---- deps: every dependency, with the tools argon2 needs to build from source -----------------
# Never --ignore-scripts: argon2's install script (node-gyp-build) uses its prebuilt binary when that
# loads, and builds from source when it does not (it crashes under some Node builds); hence the
# compilers here.
FROM node:22-bookworm-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lock file: one that does not match package.json fails the build, as it fails CI.
RUN npm ci --no-audit --no-fund

# ---- build: compile, then drop dev dependencies (the compiled argon2 addon stays) -------------
FROM deps AS build
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p public

# ---- runtime: no compilers, no dev dependencies, not root ------------------------------------
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
# The code stays owned by root, so the app cannot rewrite itself; only /data is writable.
# package.json must ship: its "type": "module" is what makes node load dist/ as ES modules.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public
# Created and chowned before VOLUME so a fresh named volume starts out owned by the app's user.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
# The slim image has no curl; Node's fetch does the liveness probe (needs `health` in MODULES).
HEALTHCHECK --interval=15s --timeout=5s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
