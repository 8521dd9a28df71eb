/** `npm start` / `npm stop` (see local-stack.ts). */
import * as path from "node:path";
import * as readline from "node:readline";
import { QuickstartError, start, stop, type Io } from "./local-stack";

const io: Io = {
  log: (line) => process.stdout.write(`${line}\n`),
  askSecret: (prompt) => {
    if (!process.stdin.isTTY) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
      // Echo nothing of what is typed.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.startsWith(prompt)) process.stdout.write(prompt);
      };
      rl.question(prompt, (answer) => {
        rl.close();
        process.stdout.write("\n");
        resolve(answer);
      });
    });
  },
};

const command = process.argv[2];
// The project folder: the checkout, or MLFLOW_KIT_PROJECT_DIR (the engine tests' stand-in).
const projectDir = process.env.MLFLOW_KIT_PROJECT_DIR ? path.resolve(process.env.MLFLOW_KIT_PROJECT_DIR) : path.resolve(__dirname, "..");
const ctx = { projectDir, env: process.env, io };

(command === "start" ? start(ctx).then(() => undefined) : command === "stop" ? stop(ctx) : Promise.reject(new QuickstartError("usage: npm start | npm stop"))).then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    // A known refusal is its sentence alone; anything else (the CLI's failure) in full.
    process.stderr.write(`${err instanceof QuickstartError ? err.message : err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
