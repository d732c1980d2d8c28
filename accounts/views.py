from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import notification_prefs, services, signup_limits
from .forms import NotificationPreferencesForm, ProfileForm, SignUpForm, ThemeForm
from .models import NotificationPreferences


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("kanban:board_list")
    if not signup_limits.signup_open():
        status = 403 if request.method == "POST" else 200
        context = {"closed_message": signup_limits.CLOSED_MESSAGE}
        return render(request, "accounts/signup.html", context, status=status)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and signup_limits.over_rate(request):
        form.add_error(None, signup_limits.rate_message())
        return render(request, "accounts/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        if not signup_limits.count_signup(request):
            form.add_error(None, signup_limits.rate_message())
            return render(request, "accounts/signup.html", {"form": form}, status=429)
        user = services.sign_up(form=form)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to TaskFlow, {user.get_display_name()}!")
        return redirect("kanban:board_list")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.update_profile(
            user=request.user,
            display_name=form.cleaned_data["display_name"],
            email=form.cleaned_data["email"],
        )
        messages.success(request, "Profile saved.")
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {"form": form, "theme_form": ThemeForm(initial={"theme": request.user.theme})},
    )


@require_POST
def theme(request: HttpRequest) -> HttpResponse:
    """Save the colour theme (the nav's Dark mode button posts here with fetch; the profile
    page's form works without JavaScript)."""
    form = ThemeForm(request.POST)
    wants_json = request.headers.get("X-Requested-With") == "fetch"
    if not form.is_valid():
        message = "Theme: choose auto, light or dark."
        if wants_json:
            return JsonResponse({"error": message}, status=400)
        messages.error(request, message)
        return redirect("accounts:profile")
    services.set_theme(user=request.user, theme=form.cleaned_data["theme"])
    if wants_json:
        return JsonResponse({"theme": request.user.theme})
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    messages.success(request, "Theme saved.")
    return redirect(next_url or "accounts:profile")


class LogoutView(auth_views.LogoutView):
    """Django's POST-only logout, through `services.log_out` so the user's open sockets on
    this session are closed too (CSRF-protected and never cached, as the parent)."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        services.log_out(request)
        return HttpResponseRedirect(self.get_success_url())


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, through `services.change_password` so the user's other
    sessions lose their open sockets as well as their page access."""

    def form_valid(self, form) -> HttpResponse:
        services.change_password(request=self.request, form=form)
        return HttpResponseRedirect(self.get_success_url())


# --- Issue 11: e-mail notification preferences and unsubscribe ----------------------------


@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    prefs = notification_prefs.preferences_for(request.user)
    form = NotificationPreferencesForm(request.POST or None, instance=prefs)
    if request.method == "POST" and form.is_valid():
        notification_prefs.update_notification_preferences(
            user=request.user,
            choices={kind: form.cleaned_data[kind] for kind in NotificationPreferences.KINDS},
        )
        messages.success(request, "Notification preferences saved.")
        return redirect("accounts:notification_preferences")
    return render(
        request,
        "accounts/notification_preferences.html",
        {
            "form": form,
            "delay_minutes": settings.NOTIFICATION_EMAIL_DELAY_MINUTES,
        },
    )


@login_not_required
@csrf_exempt  # RFC 8058: a mail client posts without cookies; the signed token is the authority
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page confirming what the link stops (its button posts here). POST (the page's
    button, or a mail client's `List-Unsubscribe=One-Click`): e-mail off for the kinds the
    token names. No log-in: the signed token says who. A bad token is a 400 page."""
    found = notification_prefs.read_unsubscribe_token(token)
    if found is None:
        return render(request, "accounts/unsubscribe.html", {"invalid": True}, status=400)
    user, kinds = found
    labels = [NotificationPreferences._meta.get_field(kind).verbose_name for kind in kinds]
    if request.method == "POST":
        notification_prefs.unsubscribe(user=user, kinds=kinds)
        return render(request, "accounts/unsubscribe.html", {"done": True, "labels": labels})
    return render(request, "accounts/unsubscribe.html", {"labels": labels, "person": user})
