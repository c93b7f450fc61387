from django.apps import AppConfig


class BaseConfig(AppConfig):
    name = "taiga.base"
    label = "taiga_base"

    def ready(self) -> None:
        from taiga.base import checks  # noqa: F401  (registers the checks)
