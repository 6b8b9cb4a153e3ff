"""Execute a notebook headless with nbclient; print one JSON line summarising its outputs.

usage: run_notebook.py NOTEBOOK KERNEL_NAME [OUT.ipynb]
JUPYTER_PATH must point at the kernelspecs the test installed. Exit 1 if any cell fails.
"""
import json, os, sys
import nbformat, nbclient
from nbclient.exceptions import CellExecutionError

path, kernel = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
client = nbclient.NotebookClient(nb, kernel_name=kernel, timeout=900,
                                 resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
error = None
try:
    client.execute()
except CellExecutionError as e:
    error = str(e)[-3000:]
if len(sys.argv) > 3:
    nbformat.write(nb, sys.argv[3])
outputs = []
for cell in nb.cells:
    for o in cell.get("outputs", []):
        outputs.append({"type": o.get("output_type"), "mimes": sorted(o.get("data", {}).keys()),
                        "text": str(o.get("text", ""))[:2000]})
print(json.dumps({"error": error, "outputs": outputs}))
sys.exit(1 if error else 0)
