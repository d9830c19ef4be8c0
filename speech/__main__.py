import sys

from speech.cli import main

sys.exit(main())
