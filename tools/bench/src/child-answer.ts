/**
 * Reads the JSON answer a bench child process prints as its last line. `read` returns the answer
 * or undefined when the value is not one; anything else (a stray log line, bad JSON, a value of
 * the wrong shape) is an error that names the child and quotes what it printed.
 */
export function parseChildAnswer<T>(child: string, expected: string, line: string, read: (value: unknown) => T | undefined): T {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    value = undefined;
  }
  const answer = value === undefined ? undefined : read(value);
  if (answer === undefined) throw new Error(`${child} process answered ${JSON.stringify(line.slice(0, 200))} instead of ${expected}`);
  return answer;
}
