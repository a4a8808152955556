"""Print one of the README's quick-start commands: ``first`` (install and run the main
job) or ``test`` (install and run the tests), the first and second ``bash`` blocks of
its "Quick start" section, so that CI runs exactly what the README says."""

import re
import sys
from pathlib import Path

text = Path(__file__).resolve().parents[1].joinpath("README.md").read_text()
section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
which = {"first": 0, "test": 1}[sys.argv[1]]
print(blocks[which].strip())
