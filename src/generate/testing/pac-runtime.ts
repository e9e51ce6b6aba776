// Evaluates a PAC file the way pac-resolver does (QuickJS in WebAssembly), one VM per PAC so
// that sandbox overrides of one test never leak into another.
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';

export interface PacRuntime {
  findProxy(url: string, host: string): Promise<string>;
  dispose(): void;
}

export async function loadPac(text: string, sandbox: Record<string, unknown> = {}): Promise<PacRuntime> {
  const vm = await QuickJS.create();
  const resolver = createPacResolver(vm, text, { sandbox: sandbox as never });
  return {
    findProxy: (url, host) => resolver(url, host),
    dispose: () => vm.dispose(),
  };
}
