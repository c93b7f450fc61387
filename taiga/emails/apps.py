from django.apps import AppConfig


class EmailsConfig(AppConfig):
    name = "taiga.emails"
    label = "emails"
