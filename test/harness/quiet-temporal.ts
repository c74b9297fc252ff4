// Test setup file: the Temporal runtime logs at WARN in tests (INFO floods the output with bundle logs).
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Installed already in this process: Runtime.install may run once per process.
}
