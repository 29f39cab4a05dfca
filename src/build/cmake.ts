// Configures and builds native/ with CMake + Ninja, showing Ninja's progress lines. Each lane's
// targets are built separately so one lane's compile error leaves the other lanes runnable.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runProcess } from '../lanes/spawn.js';
import { BuildError } from './errors.js';
import type { Toolchain } from './toolchain.js';

export interface BuildOptions {
  nativeDir: string;
  buildDir: string;
  buildType: 'Release' | 'Debug' | 'RelWithDebInfo';
  toolchain: Toolchain;
  log: (line: string) => void;
  /** extra -D definitions */
  defines?: Record<string, string>;
}

const BUILD_TIMEOUT_MS = 30 * 60 * 1000;

function lastLines(text: string, n = 15): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

function cachedCompiler(buildDir: string): string | undefined {
  const cache = path.join(buildDir, 'CMakeCache.txt');
  if (!existsSync(cache)) return undefined;
  return /^CMAKE_CXX_COMPILER:[A-Z]+=(.*)$/m.exec(readFileSync(cache, 'utf8'))?.[1];
}

export async function configure(o: BuildOptions): Promise<void> {
  if (!existsSync(path.join(o.nativeDir, 'CMakeLists.txt'))) {
    throw new BuildError(
      'configure',
      `${path.join(o.nativeDir, 'CMakeLists.txt')} not found (is native-dir right?)`,
    );
  }
  const cached = cachedCompiler(o.buildDir);
  // Re-running configure is cheap, but a changed compiler needs a fresh cache: CMake refuses
  // to switch compilers in place.
  const fresh = cached !== undefined && cached !== o.toolchain.cxx ? ['--fresh'] : [];
  if (cached === o.toolchain.cxx && !o.defines) return;
  o.log(`configure: ${path.relative(process.cwd(), o.buildDir) || '.'} with clang-${o.toolchain.major}`);
  const args = [
    ...fresh,
    '-S',
    o.nativeDir,
    '-B',
    o.buildDir,
    '-G',
    'Ninja',
    `-DCMAKE_BUILD_TYPE=${o.buildType}`,
    `-DCMAKE_TOOLCHAIN_FILE=${path.join(o.nativeDir, 'cmake', 'toolchains', 'clang17.cmake')}`,
    `-DINFENG_CLANG_VERSION=${o.toolchain.major}`,
    ...Object.entries(o.defines ?? {}).map(([k, v]) => `-D${k}=${v}`),
  ];
  const r = await runProcess('cmake', args, { timeoutMs: BUILD_TIMEOUT_MS });
  if (r.spawnError)
    throw new BuildError('configure', `cmake could not be started (${r.spawnError}); run scripts/setup.sh`);
  if (r.code !== 0)
    throw new BuildError('configure', `cmake configure failed:\n${lastLines(r.stderr || r.stdout)}`);
}

export async function buildTargets(o: BuildOptions, targets: string[]): Promise<void> {
  const r = await runProcess('cmake', ['--build', o.buildDir, '--target', ...targets], {
    timeoutMs: BUILD_TIMEOUT_MS,
    onLine: (l) => {
      if (/^\[\d+\/\d+\]/.test(l)) o.log(`build: ${l}`);
    },
  });
  if (r.spawnError) throw new BuildError('build', `cmake could not be started: ${r.spawnError}`);
  if (r.timedOut)
    throw new BuildError('build', `building ${targets.join(', ')} took over ${BUILD_TIMEOUT_MS / 60000} min`);
  if (r.code !== 0)
    throw new BuildError(
      'build',
      `building ${targets.join(', ')} failed:\n${lastLines(r.stdout + r.stderr)}`,
    );
}
