#!/usr/bin/env node
// The `tally` executable: runs the CLI's JavaScript bundle, rebuilt first when a source changed (bin/cli-build.mjs).
import { pathToFileURL } from 'node:url';
import { currentCliBuild } from './cli-build.mjs';

process.setSourceMapsEnabled(true);
const { main } = await import(pathToFileURL(await currentCliBuild()).href);
await main(process.argv);
