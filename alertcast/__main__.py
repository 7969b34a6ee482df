import sys

from alertcast.cli import main

sys.exit(main())
