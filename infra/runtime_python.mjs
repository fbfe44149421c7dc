// CPython of the Lambda runtime's version (Pyodide's WebAssembly build, from npm) for a machine that has
// another Python: `node infra/runtime_python.mjs HOST_DIR MOUNT -m MODULE [ARGS...]` runs the module
// with HOST_DIR visible at MOUNT and exits with its status. infra/build_layer.py compiles the layer's
// bytecode with it; bytecode depends on the Python version only, not on the platform.
import { loadPyodide } from "pyodide";

const [hostDir, mountPoint, flag, module, ...args] = process.argv.slice(2);
if (flag !== "-m" || !module) {
  console.error("usage: runtime_python.mjs HOST_DIR MOUNT -m MODULE [ARGS...]");
  process.exit(2);
}
const pyodide = await loadPyodide();
pyodide.FS.mkdirTree(mountPoint);
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: hostDir }, mountPoint);
pyodide.globals.set("module", module);
pyodide.globals.set("args", pyodide.toPy(args));
const status = pyodide.runPython(`
import runpy, sys
sys.argv = [module, *args]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    status = 0
except SystemExit as exit:
    status = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
status
`);
process.exit(status);
