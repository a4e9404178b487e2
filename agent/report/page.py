"""The HTML page of `agent report`: a Jinja2 template with autoescaping, styles inline.

Everything (styles, images as data: URIs) lives in the one file so it can be attached to a bug report.
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Run {{ run.name }} · {{ task }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
.status { display: inline-block; padding: .1em .6em; border-radius: .3em; color: #fff; font-weight: bold; }
.status.success { background: #2e7d32; } .status.incomplete { background: #b26a00; }
.status.failure, .status.error, .status.max_steps, .status.aborted { background: #c62828; }
.status.done, .status.gave_up { background: #00838f; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
.pass { color: #2e7d32; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
.damage { background: #fff4e5; border-left: 4px solid #b26a00; padding: .4em .8em; }
.step { border-top: 2px solid #ddd; padding-top: 1em; margin-top: 1.5em; display: grid;
        grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1em; }
.step h2 { grid-column: 1 / -1; font-size: 1.1em; margin: 0; }
.step img { max-width: 100%; border: 1px solid #999; }
.missing { padding: 2em; background: #f5f5f5; color: #b26a00; text-align: center; }
pre { background: #f6f8fa; padding: .5em; white-space: pre-wrap; word-break: break-word; margin: .2em 0 .8em; }
.error { background: #ffebee; border-left: 4px solid #c62828; padding: .4em .8em; }
h3 { font-size: .95em; margin: .6em 0 .2em; }
</style>
</head>
<body>
<h1>{{ task }} <span class="status {{ status }}">{{ status_label }}</span></h1>
<p>Run <code>{{ run.name }}</code>{% if meta %} · policy <b>{{ meta.policy }}</b>{% if meta.model %} ({{ meta.model }}){% endif %}
 · started {{ started }} UTC{% endif %} · {{ steps|length }} steps · {{ duration }}</p>
{% if meta %}<p><b>Instruction:</b> {{ meta.instruction|cut }}</p>{% endif %}
{% if result and result.message %}<p><b>Message:</b> {{ result.message|cut }}</p>{% endif %}

<h2>Checks</h2>
{% if result and result.checks %}
<table><tr><th></th><th>check</th><th>detail</th></tr>
{% for check in result.checks %}
<tr><td class="{{ 'pass' if check.passed else 'fail' }}">{{ '✔ pass' if check.passed else '✘ fail' }}</td>
<td>{{ check.name|cut }}</td><td>{{ check.detail|cut }}</td></tr>
{% endfor %}</table>
{% elif result %}<p>No checks were recorded.</p>
{% else %}<p>No result: the run is still going or was killed.</p>{% endif %}

{% if problems %}
<h2>Damage found while reading the run</h2>
<div class="damage"><ul>{% for problem in problems %}<li>{{ problem }}</li>{% endfor %}</ul></div>
{% endif %}

{% if meta %}
<details><summary>Run details</summary>
<table>
<tr><th>task file</th><td>{{ meta.task_file or '-' }}</td></tr>
<tr><th>screen</th><td>{% if meta.geometry %}screenshot {{ meta.geometry.screenshot_width }}×{{ meta.geometry.screenshot_height }},
 logical {{ meta.geometry.logical_width }}×{{ meta.geometry.logical_height }} at ({{ meta.geometry.offset_x }}, {{ meta.geometry.offset_y }}){% else %}-{% endif %}</td></tr>
<tr><th>live desktop</th><td>{{ 'yes' if meta.live else 'no (sandbox)' }}</td></tr>
<tr><th>step limit</th><td>{{ meta.max_steps }}</td></tr>
{% for name, version in meta.versions.items() %}<tr><th>{{ name }}</th><td>{{ version }}</td></tr>{% endfor %}
</table></details>
{% endif %}

{% for item in steps %}
<section class="step" id="step-{{ item.step.step }}">
<h2>Step {{ item.step.step }} · {{ item.summary }} · <span class="{{ 'fail' if item.step.error else 'pass' }}">{{ item.status }}</span></h2>
<div>
{% if item.image %}<img alt="screenshot of step {{ item.step.step }} with the action drawn" src="data:image/png;base64,{{ item.image }}">
{% else %}<div class="missing">{{ item.missing }}</div>{% endif %}
</div>
<div>
{% if item.step.error %}<div class="error"><b>{{ item.step.error.kind }} error:</b> {{ item.step.error.message|cut }}</div>{% endif %}
<h3>Model output</h3><pre>{{ item.output }}</pre>
{% if item.thought %}<h3>Thought</h3><pre>{{ item.thought }}</pre>{% endif %}
<h3>Parsed action (0–1000 grid)</h3><pre>{{ item.actions }}</pre>
<h3>Executed (screen pixels)</h3><pre>{{ item.executed }}</pre>
<h3>Timings and counters</h3>
<table>{% for name, value in item.step.timings_ms.items() %}<tr><th>{{ name }}</th><td>{{ '%g'|format(value) }} ms</td></tr>{% endfor %}
{% for name, value in item.step.counters.items() %}<tr><th>{{ name }}</th><td>{{ '%g'|format(value) }}</td></tr>{% endfor %}</table>
<p><small>{{ item.step.started_at }} → {{ item.step.ended_at }}</small></p>
</div>
</section>
{% endfor %}
</body>
</html>
"""
