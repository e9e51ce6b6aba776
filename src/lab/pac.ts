// Evaluates a generated PAC file the way pac-resolver does (QuickJS in WebAssembly): the lab's
// PAC-aware client for curl, with no access to the host's DNS.
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';

export interface PacRuntime {
  findProxy(url: string, host: string): Promise<string>;
  dispose(): void;
}

export async function loadPac(text: string): Promise<PacRuntime> {
  const vm = await QuickJS.create();
  const resolver = createPacResolver(vm, text);
  return {
    findProxy: (url, host) => resolver(url, host),
    dispose: () => vm.dispose(),
  };
}
