"""In-memory fakes of the ports (`storage`, `queue`, ...), for unit tests and the local stack (never deployed).

Each fake has the semantics of its real adapter, checked by the contract suites in `tests/contract/`. Import the
module you need (`from local.fakes.storage import InMemoryCouplingStore`); this package imports nothing itself, so
using one fake never loads another's dependencies.
"""
