"""`haven demo`: synthetic, entirely fictitious cases, written through the real use cases.

A tool for demonstrations, tests and benchmarks, not part of the service's own work. Two
halves, so that determinism can be tested without a database:

* `generator.demo_plan(seed, cases, today)` is pure: from `random.Random(seed)` alone it plans
  every command of every case (`planner`, built in layers: `agenda`, `care`, `referrals`,
  `immigration`, `enrolment`, `closure`; `rich_life` for a longer case life), each checked
  with the domain's own `decide`, so the plan (`plan`) also knows every event and version.
* `seeding.seed_demo` plays a plan through the use cases; `bulk` writes the same events
  without their round trips, for benchmarks.
* `identification` plans, from a case plan and its seed, screenings (`screenings`: standing
  alone, and of the open cases with the determinations naming them) and outreach, training
  and technical-assistance activities (`activities`) over the quarters up to `today`, and
  writes them through their use cases after either path's cases.

Dates are anchored on `today` (never the wall clock): intakes spread over the two years
before it, and nothing is dated after it. Clients and organisations are fictitious
(`fiction`, `organisations`).
"""
