import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organizations"),
        ("kanban", "0003_boards_into_organizations"),
    ]

    operations = [
        migrations.AlterField(
            model_name="board",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="boards",
                to="accounts.organization",
            ),
        ),
    ]
