from django.urls import path

from taiga.users import views

app_name = "users"
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("verify/<str:key>/", views.verify, name="verify"),
]
