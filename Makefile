# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
.PHONY: install tools cli demo test

NPM_STAMP := node_modules/.package-lock.json

install: $(NPM_STAMP) tools cli

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# Builds the pinned Temporal CLI and nats-server with `go install` into .tools/bin (skipped when current).
tools: $(NPM_STAMP)
	node bin/tally.mjs stack build

# The CLI's JavaScript bundle (bin/cli-build.mjs); `tally` rebuilds it by itself when a source changed.
cli: $(NPM_STAMP)
	node bin/cli-build.mjs

demo: install
	node bin/tally.mjs demo

test: install
	npm run check
