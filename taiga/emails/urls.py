from django.urls import path

from taiga.emails import views

app_name = "emails"
urlpatterns = [path("send/", views.send, name="send")]
