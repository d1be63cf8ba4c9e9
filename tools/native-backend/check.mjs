// Loads the node backend the way the coordinator and workers do (with its forward and backward
// probe) and prints one line; exits 1 with the reason when it does not work.
import { describeSelection, selectBackend } from '@distgan/runtime';

try {
  const selection = await selectBackend('node');
  console.log(`native-backend: ${describeSelection(selection)} works on Node.js ${process.version}`);
} catch (err) {
  console.error(`native-backend: error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
