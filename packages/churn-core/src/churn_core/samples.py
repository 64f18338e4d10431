"""Sample customers for warm-up, smoke tests and the deploy tools' `test` commands."""

from __future__ import annotations

from typing import Any

SAMPLE_CUSTOMERS: list[dict[str, Any]] = [
    {
        "CreditScore": 619,
        "Geography": "France",
        "Gender": "Female",
        "Age": 42,
        "Tenure": 2,
        "Balance": 0.0,
        "NumOfProducts": 1,
        "HasCrCard": 1,
        "IsActiveMember": 1,
        "EstimatedSalary": 101348.88,
    },
    {
        "CreditScore": 502,
        "Geography": "Germany",
        "Gender": "Female",
        "Age": 58,
        "Tenure": 8,
        "Balance": 159660.8,
        "NumOfProducts": 3,
        "HasCrCard": 1,
        "IsActiveMember": 0,
        "EstimatedSalary": 113931.57,
    },
    {
        "CreditScore": 850,
        "Geography": "Spain",
        "Gender": "Male",
        "Age": 29,
        "Tenure": 7,
        "Balance": 0.0,
        "NumOfProducts": 2,
        "HasCrCard": 0,
        "IsActiveMember": 1,
        "EstimatedSalary": 41500.0,
    },
]
