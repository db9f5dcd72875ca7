"""``core.credentials.mask_credentials``: every form a password takes in a storage URL or a
connection string is masked, and what identifies the place (scheme, user, host, db) stays."""

from __future__ import annotations

import pytest

from spectral_cli.core.credentials import mask_credentials

FORMS = [
    # (text, the secret, what must stay)
    ("postgresql://u:s3cret@db.example/tune", "s3cret", "postgresql://u:***@db.example/tune"),
    ("postgresql://u@127.0.0.1:1/db?password=s3cret", "s3cret", "127.0.0.1:1/db?password=***"),
    ("postgresql://u@h/db?sslmode=require&PassWord=s3cret&x=1", "s3cret", "&PassWord=***&x=1"),
    ("postgresql://u@h/db?sslpassword=s3cret", "s3cret", "sslpassword=***"),
    ("postgresql://u:p@ss:w@rd@h:5/db", "p@ss:w@rd", "postgresql://u:***@h:5/db"),
    ("postgresql://u:p@ss@h/db", "ss@h", "postgresql://u:***@h/db"),
    ("mysql+pymysql://root:s3cret@h/db", "s3cret", "mysql+pymysql://root:***@h/db"),
    ("postgresql://:s3cret@h/db", "s3cret", "postgresql://:***@h/db"),
    ("host=h user=u password=s3cret dbname=d", "s3cret", "host=h user=u password=*** dbname=d"),
    ("host=h password = 's3 cr\\'et' dbname=d", "cr", "host=h password = *** dbname=d"),
    ('host=h passwd="s3 cret"', "cret", "passwd=***"),
    ("host=h pwd=s3cret", "s3cret", "pwd=***"),
    ("cannot open --storage 'postgresql://u:s3cret@h/db' (refused)", "s3cret", "'postgresql"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), FORMS)
def test_every_credential_form_is_masked(text: str, secret: str, kept: str) -> None:
    masked = mask_credentials(text)
    assert secret not in masked and kept in masked
    assert mask_credentials(masked) == masked  # idempotent: masking a masked line changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:////tmp/runs/optuna.db",
        "postgresql://u@h/db",
        "--set model.tokens=3 --set train.lr=0.01",
        "error: --out runs/x exists and is not empty",
    ],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert mask_credentials(text) == text
