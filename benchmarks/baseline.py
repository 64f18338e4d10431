"""The seed's model, rebuilt as the baseline every benchmark measures against.

A scikit-learn Pipeline: one-hot encoding and scaling, then a StackingClassifier of a random
forest, gradient boosting and logistic regression with a logistic-regression final estimator,
predicting from a pandas DataFrame — what the seed's system served.
"""

from __future__ import annotations

from typing import Any

SEED = 42


def seed_pipeline(rows: int = 10_000, seed: int = SEED) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        RandomForestClassifier,
        StackingClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from churn_core.data import generate
    from churn_core.schema import CATEGORICAL, FEATURE_NAMES, LABEL

    data = generate(rows, seed=seed)
    categorical = list(CATEGORICAL)
    numeric = [n for n in FEATURE_NAMES if n not in CATEGORICAL]
    preprocess = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("num", StandardScaler(), numeric),
        ]
    )
    stack = StackingClassifier(
        estimators=[
            ("rf", RandomForestClassifier(n_estimators=100, max_depth=10, random_state=seed)),
            ("gb", GradientBoostingClassifier(n_estimators=100, random_state=seed)),
            ("lr", LogisticRegression(max_iter=1000)),
        ],
        final_estimator=LogisticRegression(max_iter=1000),
        cv=5,
    )
    model = Pipeline([("preprocess", preprocess), ("model", stack)])
    model.fit(data[list(FEATURE_NAMES)], data[LABEL])
    return model
