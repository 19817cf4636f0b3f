"""`haven report`: a federal report of a period as JSON or CSV files, or the disclosure policy.

A refused release prints only a reference (the reason goes to the refusal record), and
nothing the solver's C library prints reaches standard output, which is the report's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from services.settings import Settings


async def run_report_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    if args.report_command == "policy":
        from services.reporting.policy_command import run_policy_command

        return await run_policy_command(settings, url, args)
    from services.database import connection_pool, prepare_database
    from services.reporting.access import InvalidPeriod, ReportError
    from services.reporting.document import render_csv
    from services.reporting.dp import Requester
    from services.reporting.dp_report import run_dp_report
    from services.reporting.funder_fields import FieldError, answer_fields
    from services.reporting.job import ROLL_UP, FederalReportJob
    from services.reporting.refusals import REFUSALS, public_text, record_refusal

    await prepare_database(url)
    job = FederalReportJob(settings.reporting_url(url))
    requester = Requester(args.org or "deployment", "administrator", "haven-cli")
    # the solver's C library may print diagnostics on file descriptor 1: keep stdout for the report
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        if (
            args.dp_epsilon is not None
        ):  # the operator is the deployment's administrator: recorded, not capped
            document = await run_dp_report(
                settings.reporting_url(url),
                args.period,
                args.org,
                epsilon=args.dp_epsilon,
                requester=requester,
            )
        else:
            document = await job.run(args.period, args.org)
        if args.field:  # each identifying field asked for is logged as refused (standard error)
            document = answer_fields(document, args.field)
    except FieldError as error:  # names the field's position, not what was asked
        print(f"haven report: {error}", file=sys.stderr)
        return 2
    except REFUSALS as error:  # why goes to the refusal record; the operator gets a reference only
        async with connection_pool(url, min_size=1, max_size=1) as pool:
            reference = await record_refusal(
                pool,
                error,
                period=args.period,
                scope=args.org or ROLL_UP,  # type: ignore[arg-type]
                requester=requester,
            )
        print(f"haven report: {public_text(reference)}", file=sys.stderr)
        return 3
    except ReportError as error:  # messages name no count, code or identifier
        print(f"haven report: {error}", file=sys.stderr)
        return 2 if isinstance(error, InvalidPeriod) else 3
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    if args.format == "json":
        text = json.dumps(document, indent=2) + "\n"
        if args.out:
            args.out.write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    files = render_csv(document)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (args.out / name).write_text(text)
        print(f"haven report: wrote {len(files)} files to {args.out}")
    else:
        for name, text in files.items():
            sys.stdout.write(f"# {name}\n{text}\n")
    return 0
