"""Airflow (2.7+) runs stockflow as one task per night; Airflow owns the schedule, retries and alerting.

The as-of date is Airflow's logical date, so a backfill of past nights runs each with its own date.
A non-zero exit fails the task and Airflow retries it: worth it for 75 (temporary: lock held, server
unreachable); 1, 2 and 65 (bad data, invalid pipeline, too many rejects) fail again until fixed.
"""
import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="stockflow_nightly_inventory",
    schedule="30 2 * * *",
    start_date=pendulum.datetime(2026, 11, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": pendulum.duration(minutes=10), "retry_exponential_backoff": True},
    tags=["stockflow"],
) as dag:
    BashOperator(
        task_id="run",
        bash_command=(
            "stockflow run pipelines/nightly-inventory.yml --out /srv/stockflow/out/nightly-inventory "
            "--as-of {{ data_interval_end.in_timezone('Europe/Paris').to_date_string() }} "
            "--state /srv/stockflow/.stockflow/state.sqlite --log-format json"
        ),
        cwd="/srv/stockflow",
    )
