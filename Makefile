# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
.PHONY: install tools demo test

NPM_STAMP := node_modules/.package-lock.json

install: $(NPM_STAMP) tools

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# Builds the pinned Temporal CLI and nats-server with `go install` into .tools/bin (skipped when current).
tools: $(NPM_STAMP)
	node bin/tally.mjs stack build

demo: install
	node bin/tally.mjs demo

test: install
	npm run check
