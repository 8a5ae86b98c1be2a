import sys

from improvesim.cli import main

sys.exit(main())
