# SIGTERM/SIGHUP handled from the first moment (before the heavy imports of the CLI)
from sen_preproc.interrupts import raise_on_termination

raise_on_termination()

from sen_preproc.cli.main import main  # noqa: E402

main()
