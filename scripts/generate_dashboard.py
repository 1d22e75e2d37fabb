"""Generate dashboards/exchange-certificates.json with grafana-foundation-sdk.

    python scripts/generate_dashboard.py            # rewrite the committed file
    python scripts/generate_dashboard.py --check    # exit 1 if it differs (the tests do this)

The SDK's typed builders are the schema check: a panel or option that the
Grafana model does not have does not build. The PromQL below is executed against
a real Prometheus by tests/test_alerting_end_to_end.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom_model

OUT = Path(__file__).resolve().parent.parent / "dashboards" / "exchange-certificates.json"
UID = "exchange-internal-url-certs"
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = 'server=~"$server",component=~"$component"'

# Every PromQL expression in the dashboard, by panel title: the tests run them all.
QUERIES: dict[str, str] = {}


def q(title: str, expr: str, *, table_format: bool = False, legend: str = "") -> prom.Dataquery:
    QUERIES[title] = expr
    query = prom.Dataquery().expr(expr).datasource(DS).ref_id("A")
    if table_format:
        query = query.instant().format(prom_model.PromQueryFormat.TABLE)
    if legend:
        query = query.legend_format(legend)
    return query


def ok_fail() -> list[model.ValueMapping]:
    return [
        model.ValueMap(
            options={
                "0": model.ValueMappingResult(text="FAIL", color="red", index=0),
                "1": model.ValueMappingResult(text="OK", color="green", index=1),
            }
        )
    ]


def status_map() -> list[model.ValueMapping]:
    return [
        model.ValueMap(
            options={
                "0": model.ValueMappingResult(text="OK", color="green", index=0),
                "1": model.ValueMappingResult(text="WARNING", color="yellow", index=1),
                "2": model.ValueMappingResult(text="CRITICAL", color="red", index=2),
                "3": model.ValueMappingResult(text="UNKNOWN", color="purple", index=3),
            }
        )
    ]


MAIL = 'component=~"smtp|smtp_submission|imap|pop"'
AUTH = 'component="auth_certificate"'
BACKEND = 'component="backend"'


def matrix(
    title: str, metric: str, mappings: list[model.ValueMapping], desc: str, only: str = ""
) -> table.Panel:
    """Servers down, components across: one cell per endpoint, coloured by value;
    ``only`` narrows the components (a selector such as MAIL)."""
    selector = f"{SEL},{only}" if only else SEL
    return (
        table.Panel()
        .title(title)
        .description(desc)
        .datasource(DS)
        .height(8)
        .span(12)
        .with_target(
            q(title, f"max by (server, component) ({metric}{{{selector}}})", table_format=True)
        )
        .with_transformation(
            model.DataTransformerConfig(
                id_val="groupingToMatrix",
                options={
                    "columnField": "component",
                    "rowField": "server",
                    "valueField": "Value",
                    "emptyValue": "empty",
                },
            )
        )
        .mappings(mappings)
        .cell_options(common.TableColoredBackgroundCellOptions())
    )


def count_stat(title: str, expr: str, color: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .datasource(DS)
        .height(4)
        .span(4)
        .with_target(q(title, expr))
        .thresholds(
            db.ThresholdsConfig()
            .mode(model.ThresholdsMode.ABSOLUTE)
            .steps(
                [model.Threshold(value=None, color="green"), model.Threshold(value=1, color=color)]
            )
        )
    )


def expiry_gauge(
    title: str, metric: str, only: str = "", warn: int = 30, crit: int = 7
) -> bargauge.Panel:
    """Days left per endpoint, red under ``crit`` days and yellow under ``warn``."""
    selector = f"{SEL},{only}" if only else SEL
    expr = f"(min by (server, component) ({metric}{{{selector}}}) - time()) / 86400"
    return (
        bargauge.Panel()
        .title(title)
        .datasource(DS)
        .height(8)
        .span(12)
        .unit("d")
        .min(0)
        .with_target(q(title, expr, legend="{{server}} {{component}}"))
        .thresholds(
            db.ThresholdsConfig()
            .mode(model.ThresholdsMode.ABSOLUTE)
            .steps(
                [
                    model.Threshold(value=None, color="red"),
                    model.Threshold(value=crit, color="yellow"),
                    model.Threshold(value=warn, color="green"),
                ]
            )
        )
    )


def organised(title: str, expr: str, columns: list[str], height: int, desc: str) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(desc)
        .datasource(DS)
        .height(height)
        .span(24)
        .with_target(q(title, expr, table_format=True))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "includeByName": dict.fromkeys(columns, True),
                    "indexByName": {c: i for i, c in enumerate(columns)},
                },
            )
        )
    )


def build() -> dict[str, object]:
    dash = (
        db.Dashboard("Exchange internal URL certificates")
        .uid(UID)
        .description(
            "What domain-joined Outlook clients meet on every Exchange internal URL "
            "(Microsoft KB 940726), from exchange-cert-exporter."
        )
        .tags(["exchange", "certificates", "outlook"])
        .refresh("1m")
        .time("now-24h", "now")
        .timezone("browser")
        .editable()
        .with_variable(db.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            db.QueryVariable("server")
            .label("Server")
            .datasource(DS)
            .query("label_values(exchange_internal_url_info, server)")
            .multi(True)
            .include_all(True)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
        .with_variable(
            db.QueryVariable("component")
            .label("Component")
            .datasource(DS)
            .query("label_values(exchange_internal_url_info, component)")
            .multi(True)
            .include_all(True)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
        .with_row(db.Row("At a glance"))
        .with_panel(
            count_stat(
                "Critical endpoints",
                f"count(exchange_internal_url_status{{{SEL}}} == 2) or vector(0)",
                "red",
            )
        )
        .with_panel(
            count_stat(
                "Warning endpoints",
                f"count(exchange_internal_url_status{{{SEL}}} == 1) or vector(0)",
                "yellow",
            )
        )
        .with_panel(
            count_stat(
                "Discovery sources failing",
                "count(exchange_discovery_success == 0) or vector(0)",
                "red",
            )
        )
        .with_panel(
            count_stat(
                "Endpoints OK",
                f"count(exchange_internal_url_status{{{SEL}}} == 0) or vector(0)",
                "green",
            )
        )
        .with_panel(
            stat.Panel()
            .title("Seconds since last refresh")
            .datasource(DS)
            .height(4)
            .span(4)
            .unit("s")
            .with_target(
                q(
                    "Seconds since last refresh",
                    "time() - max(exchange_exporter_last_refresh_timestamp_seconds)",
                )
            )
        )
        .with_panel(
            stat.Panel()
            .title("Refresh duration")
            .datasource(DS)
            .height(4)
            .span(4)
            .unit("s")
            .with_target(q("Refresh duration", "max(exchange_exporter_refresh_duration_seconds)"))
        )
        .with_row(db.Row("Outlook's checks: servers x components"))
        .with_panel(
            matrix(
                "Status",
                "exchange_internal_url_status",
                status_map(),
                "The worst of the checks below and expiry, per endpoint.",
            )
        )
        .with_panel(
            matrix(
                "Name matches (KB 940726)",
                "exchange_internal_url_cert_match",
                ok_fail(),
                "FAIL: Outlook says the certificate's name does not match the site.",
            )
        )
        .with_panel(
            matrix(
                "Issuer trusted",
                "exchange_internal_url_cert_issuer_trusted",
                ok_fail(),
                "FAIL: the presented chain does not build to a trusted root.",
            )
        )
        .with_panel(
            matrix(
                "Date valid",
                "exchange_internal_url_cert_date_valid",
                ok_fail(),
                "FAIL: the certificate is expired or not yet valid.",
            )
        )
        .with_panel(
            matrix(
                "Internal DNS",
                "exchange_internal_url_dns_match",
                ok_fail(),
                "FAIL: the URL's host does not resolve to the server.",
            )
        )
        .with_panel(
            matrix(
                "Whole chain sent",
                "exchange_internal_url_chain_complete",
                ok_fail(),
                "FAIL: the server does not send its intermediate; Windows fetches it over AIA, "
                "phones and non-Windows clients fail.",
            )
        )
        .with_panel(
            matrix(
                "Not revoked",
                "exchange_internal_url_cert_not_revoked",
                ok_fail(),
                "FAIL: a certificate of the chain is revoked. Empty: revocation could not be "
                "checked or the chain names no CRL or OCSP responder (see Current problems).",
            )
        )
        .with_row(db.Row("Expiry"))
        .with_panel(
            expiry_gauge(
                "Days to expiry (leaf)", "exchange_internal_url_cert_not_after_timestamp_seconds"
            )
        )
        .with_panel(
            expiry_gauge(
                "Days to expiry (earliest in chain)",
                "exchange_internal_url_chain_not_after_timestamp_seconds",
            )
        )
        .with_row(db.Row("Mail protocols: SMTP, IMAP, POP"))
        .with_panel(
            matrix(
                "Mail protocols: status",
                "exchange_internal_url_status",
                status_map(),
                "SMTP (25), submission (587), IMAP and POP: the worst check per endpoint. "
                "After a renewal, SMTP left on the old certificate stops hybrid mail flow.",
                MAIL,
            )
        )
        .with_panel(
            matrix(
                "Mail protocols: name matches",
                "exchange_internal_url_cert_match",
                ok_fail(),
                "FAIL: the certificate does not name the host mail clients are given "
                "(the connector FQDN, X509CertificateName).",
                MAIL,
            )
        )
        .with_row(db.Row("Auth and back-end certificates"))
        .with_panel(
            expiry_gauge(
                "Auth certificate: days to expiry",
                "exchange_internal_url_cert_not_after_timestamp_seconds",
                AUTH,
                warn=60,
                crit=14,
            )
        )
        .with_panel(
            expiry_gauge(
                "Back end (444): days to expiry",
                "exchange_internal_url_cert_not_after_timestamp_seconds",
                BACKEND,
            )
        )
        .with_row(db.Row("Current problems and their fixes"))
        .with_panel(
            organised(
                "Current problems",
                f"exchange_internal_url_problem_info{{{SEL}}}",
                ["server", "component", "check", "reason"],
                8,
                "Every check that failed or could not be judged, with its reason.",
            )
        )
        .with_panel(
            organised(
                "Fixes (run in the Exchange Management Shell)",
                f"exchange_internal_url_remediation_info{{{SEL}}}",
                ["server", "component", "step", "kind", "text"],
                10,
                "The exporter's remediation for each endpoint, in order: the same "
                "text as its page, report and alerts.",
            )
        )
        .with_row(db.Row("Probes and discovery"))
        .with_panel(
            timeseries.Panel()
            .title("Probe duration")
            .datasource(DS)
            .height(8)
            .span(12)
            .unit("s")
            .with_target(
                q(
                    "Probe duration",
                    f"exchange_internal_url_probe_duration_seconds{{{SEL}}}",
                    legend="{{server}} {{component}}",
                )
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("Probe success")
            .datasource(DS)
            .height(8)
            .span(12)
            .min(0)
            .max(1)
            .with_target(
                q(
                    "Probe success",
                    f"exchange_internal_url_probe_success{{{SEL}}}",
                    legend="{{server}} {{component}}",
                )
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("Discovery success")
            .datasource(DS)
            .height(8)
            .span(12)
            .min(0)
            .max(1)
            .with_target(q("Discovery success", "exchange_discovery_success", legend="{{source}}"))
        )
        .with_panel(
            timeseries.Panel()
            .title("Refresh duration over time")
            .datasource(DS)
            .height(8)
            .span(12)
            .unit("s")
            .with_target(
                q(
                    "Refresh duration over time",
                    "exchange_exporter_refresh_duration_seconds",
                    legend="{{instance}}",
                )
            )
        )
    )
    built = dash.build()
    data: dict[str, object] = json.loads(JSONEncoder(sort_keys=True, indent=2).encode(built))
    return data


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date: run python scripts/generate_dashboard.py")
            return 1
        return 0
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
