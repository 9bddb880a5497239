# SIGTERM/SIGHUP handled from the first moment (before torch and the CLI are imported)
from sen_preproc.interrupts import raise_on_termination

raise_on_termination()

from mccgan.cli import main  # noqa: E402

main()
