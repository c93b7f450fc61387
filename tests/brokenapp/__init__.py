"""An installed app whose tasks module fails to import (for tasksqueue.E002)."""
