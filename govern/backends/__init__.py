"""Backends: where allowed experiments run, behind one small interface and a plugin registry.

`base` is the interface and its value types, `registry` finds the vendors' plugins, `checks` checks what a
vendor answers, `transpile` prepares a circuit for a device; `in_process` and `remote` are the two bases the
built-in plugins (`aer`, `ibm`, `braket`, `ionq`) build on, and `isolated` runs in-process simulations in
killable run processes.
"""
