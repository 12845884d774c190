"""The lab: an emulator of SMSMSE servers on one POSIX machine, for the demo, the tests and the benchmarks.

Internal, as the leading underscore says: nothing here is part of the collection's interface, and it is
never used for a real host. It writes emulated servers (folders with the three stores, their sets, ``definfo.dat``,
``usage.dat``, events and a product version: :mod:`lab`, with :mod:`lab_files` and :mod:`lab_faults`), runs the
product's own copy job on them (:mod:`lab_product`) and packs the Windows agent's C# engine for lab hosts served by it
under Mono (:mod:`lab_engine`). Production code reaches it only from the ``defs_lab`` action plugin and, for a lab host
whose inventory asks for the Windows agent, from the agent dispatch (``agent.call``), at call time.
"""
