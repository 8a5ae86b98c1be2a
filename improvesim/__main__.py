import sys

from improvesim.entry import main

sys.exit(main())
