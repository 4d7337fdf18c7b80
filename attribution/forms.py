"""The admin's channel-rule form: the conditions are checked by compiling them. (The
segment editor's forms are in attribution/segments/forms.py.)"""

from __future__ import annotations

from django import forms

from attribution.models import ChannelRule


class ChannelRuleForm(forms.ModelForm):
    class Meta:
        model = ChannelRule
        fields = ["position", "channel", "conditions", "active"]
        widgets = {"conditions": forms.Textarea(attrs={"rows": 4, "cols": 90})}

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        from attribution.engine.channels import InvalidRule, compile_rules

        try:
            compile_rules([{"channel": cleaned.get("channel"), "all": cleaned.get("conditions")}])
        except (InvalidRule, AttributeError, TypeError) as error:
            raise forms.ValidationError({"conditions": f"{error}"}) from None
        return cleaned
