from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "outcomes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # contracts' slot for the verification policy: its sections are the rules' (outcomes.rules.policy).
        from contracts.policy import policy_register
        from outcomes.rules.policy import VerificationPolicy

        policy_register(VerificationPolicy)
