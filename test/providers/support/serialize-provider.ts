/**
 * Prints the `__provider` text of a kit dynamic provider exactly as a Pulumi program makes it:
 * a real `pulumi.dynamic.Resource` is constructed (under mocks, in its own process, on the same
 * transpiled TypeScript a `pulumi up` runs) and the serialized closure it registers is captured.
 *
 *   tsx test/providers/support/serialize-provider.ts <module path> <export name> [<module path> <export name> ...]
 *
 * One pair prints {text}; several print {texts: [...]} in order (one process for a vendor's
 * providers: each start costs seconds).
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 2 || args.length % 2) throw new Error("usage: serialize-provider.ts <module path> <export name> [...]");
  let text: string | undefined;
  await pulumi.runtime.setMocks({
    newResource(args) {
      if (args.inputs.__provider) text = args.inputs.__provider as string;
      return { id: "probe", state: {} };
    },
    call: () => ({}),
  }, "mlflow-kit", "provider-contract", false);
  // dynamic.Resource is abstract in its typings; the kit's resources subclass it the same way.
  class Probe extends pulumi.dynamic.Resource {}
  const texts: string[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const [modulePath, exportName] = [args[i], args[i + 1]];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const provider = require(path.resolve(modulePath))[exportName] as pulumi.dynamic.ResourceProvider;
    if (!provider) throw new Error(`${modulePath} exports no ${exportName}`);
    text = undefined;
    const r = new Probe(provider, `probe${i / 2}`, {}, {});
    await new Promise((resolve) => r.urn.apply(resolve));
    if (!text) throw new Error(`the dynamic resource of ${exportName} registered no __provider`);
    texts.push(text);
  }
  process.stdout.write(JSON.stringify(texts.length === 1 ? { text: texts[0] } : { texts }));
}

main().catch((err: Error) => {
  process.stderr.write(`serialize-provider: ${err.stack ?? err.message}\n`);
  process.exit(2);
});
