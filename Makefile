# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
.PHONY: install tools cluster-tools cli browser demo test

NPM_STAMP := node_modules/.package-lock.json

install: $(NPM_STAMP) tools cli browser

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# Builds the pinned Temporal CLI and nats-server with `go install` into .tools/bin (skipped when current).
tools: $(NPM_STAMP)
	node bin/tally.mjs stack build

# The Temporal server and its SQL schema tool, for the cluster test only (`make test`; not the demo).
cluster-tools: $(NPM_STAMP)
	node bin/tally.mjs stack build --cluster

# The CLI's JavaScript bundle (bin/cli-build.mjs); `tally` rebuilds it by itself when a source changed.
cli: $(NPM_STAMP)
	node bin/cli-build.mjs

# Debian's Chromium, which the console's browser tests drive (never a browser build fetched by a
# package). Nothing to do when it is there; as root, apt-get installs it; otherwise say how.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "installing Debian's chromium for the console's browser tests"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else echo "chromium is missing and this is not root: run 'sudo apt-get update && sudo apt-get install -y chromium' (the console's browser tests need /usr/bin/chromium; the demo does not)" >&2; fi

demo: install
	node bin/tally.mjs demo

test: install cluster-tools
	npm run check
