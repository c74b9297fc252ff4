// The console's one script: sign-in and sign-out, decisions and user changes through the JSON API
// (with the session's CSRF token in the X-CSRF-Token header), and the charts (Chart.js, served
// from the project). Every page works from the keyboard: forms and buttons only.
'use strict';

(function () {
  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
  const flash = (message, isError) => {
    const box = document.getElementById('flash');
    if (!box) return;
    box.textContent = message;
    box.classList.toggle('flash-error', Boolean(isError));
  };

  async function api(method, url, body) {
    const headers = { 'X-CSRF-Token': csrfToken() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
    const text = await response.text();
    let data;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined; // not JSON (a proxy's error page): the status line says enough
    }
    if (!response.ok) {
      const error = new Error(data?.error?.message ?? `${response.status} ${response.statusText}`);
      error.status = response.status;
      error.code = data?.error?.code;
      throw error;
    }
    return { response, data };
  }

  function onLogin(form) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        await api('POST', '/api/v1/session', { username: data.get('username'), password: data.get('password') });
        window.location.assign(form.dataset.next || '/');
      } catch (error) {
        flash(error.message, true);
        form.querySelector('#password')?.focus();
      }
    });
  }

  function onDecision(form) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const kind = data.get('kind');
      const body = { kind };
      const reason = String(data.get('reason') ?? '').trim();
      if (reason) body.reason = reason;
      if (kind === 'adjust') body.amount = String(data.get('amount') ?? '').trim();
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        const { data: outcome } = await api(
          'POST',
          `/api/v1/exceptions/${encodeURIComponent(form.dataset.exception)}/decisions`,
          body,
        );
        flash(`Recorded: ${outcome.message}.`);
        setTimeout(() => window.location.reload(), 800);
      } catch (error) {
        flash(`Not recorded: ${error.message}`, true);
        button.disabled = false;
      }
    });
  }

  function onUsers() {
    const form = document.getElementById('add-user-form');
    form?.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        const { data: added } = await api('POST', '/api/v1/users', {
          username: data.get('username'),
          role: data.get('role'),
        });
        const shown = document.getElementById('new-password');
        if (shown)
          shown.textContent = `${added.username} (${added.role}) added. Password, shown once: ${added.password}`;
      } catch (error) {
        flash(error.message, true);
      }
    });
    for (const button of document.querySelectorAll('button[data-user-action]')) {
      button.addEventListener('click', async () => {
        try {
          await api('POST', `/api/v1/users/${encodeURIComponent(button.dataset.user)}/${button.dataset.userAction}`);
          window.location.reload();
        } catch (error) {
          flash(error.message, true);
        }
      });
    }
  }

  function onAuditVerify(button) {
    button.addEventListener('click', async () => {
      const result = document.getElementById('audit-verify-result');
      try {
        const { data } = await api('GET', '/api/v1/audit/verify');
        result.textContent = data.ok
          ? `The chain holds: ${data.rows} entries, head #${data.head?.seq ?? 0} ${data.head?.hash ?? ''}.`
          : `BROKEN: ${data.breaks.map((item) => `#${item.seq} ${item.problem}: ${item.detail}`).join('; ')}`;
      } catch (error) {
        result.textContent = error.message;
      }
    });
  }

  const PALETTE = ['#0b5cad', '#9aa5b1', '#c2c9d1', '#dde2e7', '#a4161a', '#146c2e', '#9a4d00', '#6f42c1'];
  const readData = (id) => JSON.parse(document.getElementById(id)?.textContent ?? 'null');

  function drawCharts() {
    if (typeof window.Chart !== 'function') return;
    const Chart = window.Chart;
    Chart.defaults.animation = false;
    for (const canvas of document.querySelectorAll('canvas[data-chart]')) {
      const kind = canvas.dataset.chart;
      if (kind === 'usage-by-day') {
        const usage = readData('usage-by-day');
        const select = document.getElementById('usage-meter');
        const datasets = (index) =>
          usage.meters[index].series.map((series, position) => ({
            label: series.period,
            // Display only: the figures stay decimal strings everywhere else.
            data: series.quantities.map((quantity) => Number.parseFloat(quantity)),
            borderColor: PALETTE[position],
            backgroundColor: PALETTE[position],
            borderWidth: position === 0 ? 3 : 1.5,
            pointRadius: position === 0 ? 2 : 0,
          }));
        const chart = new Chart(canvas, {
          type: 'line',
          data: { labels: Array.from({ length: 31 }, (_, day) => String(day + 1)), datasets: datasets(0) },
          options: {
            maintainAspectRatio: false,
            scales: { x: { title: { display: true, text: 'day of month' } }, y: { beginAtZero: true } },
          },
        });
        select?.addEventListener('change', () => {
          chart.data.datasets = datasets(Number.parseInt(select.value, 10));
          chart.update();
        });
      } else if (kind === 'events-per-minute') {
        const rows = readData('events-per-minute');
        new Chart(canvas, {
          type: 'bar',
          data: {
            labels: rows.map((row) => row.minute.slice(11, 16)),
            datasets: [{ label: 'events', data: rows.map((row) => row.events), backgroundColor: PALETTE[0] }],
          },
          options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
        });
      } else if (kind === 'revenue-split') {
        // Trailing 7 and 28 days, usage and subscription stacked (display only: figures stay strings elsewhere).
        const rows = readData(canvas.dataset.source);
        new Chart(canvas, {
          type: 'bar',
          data: {
            labels: rows.map((row) => `last ${row.days} days`),
            datasets: [
              { label: 'usage', backgroundColor: PALETTE[0], data: rows.map((row) => Number.parseFloat(row.usage)) },
              {
                label: 'subscription',
                backgroundColor: PALETTE[1],
                data: rows.map((row) => Number.parseFloat(row.subscription)),
              },
            ],
          },
          options: {
            indexAxis: 'y',
            maintainAspectRatio: false,
            scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } },
          },
        });
      } else if (kind === 'margin-by-product') {
        const rows = readData(canvas.dataset.source);
        new Chart(canvas, {
          type: 'bar',
          data: {
            labels: rows.map((row) => row.key),
            datasets: [
              {
                label: 'revenue',
                backgroundColor: PALETTE[1],
                data: rows.map((row) => Number.parseFloat(row.revenue)),
              },
              {
                label: 'gross margin',
                backgroundColor: PALETTE[5],
                data: rows.map((row) => Number.parseFloat(row.margin)),
              },
            ],
          },
          options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
        });
      } else if (kind === 'account-usage') {
        const rows = readData(canvas.dataset.source);
        new Chart(canvas, {
          type: 'line',
          data: {
            labels: rows.map((row) => row.day.slice(5)),
            datasets: [
              {
                label: 'usage revenue',
                borderColor: PALETTE[0],
                backgroundColor: PALETTE[0],
                data: rows.map((row) => Number.parseFloat(row.amount)),
              },
            ],
          },
          options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
        });
      } else if (kind === 'rejects-per-hour') {
        const rows = readData('rejects-per-hour');
        const hours = [...new Set(rows.map((row) => row.hour))];
        const reasons = [...new Set(rows.map((row) => row.reason))];
        new Chart(canvas, {
          type: 'bar',
          data: {
            labels: hours.map((hour) => hour.slice(5, 13).replace('T', ' ') + 'h'),
            datasets: reasons.map((reason, index) => ({
              label: reason,
              backgroundColor: PALETTE[(index + 4) % PALETTE.length],
              data: hours.map((hour) => rows.find((row) => row.hour === hour && row.reason === reason)?.events ?? 0),
            })),
          },
          options: {
            maintainAspectRatio: false,
            scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
          },
        });
      }
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    const login = document.getElementById('login-form');
    if (login) onLogin(login);
    const decision = document.getElementById('decision-form');
    if (decision) onDecision(decision);
    onUsers();
    const verify = document.getElementById('audit-verify');
    if (verify) onAuditVerify(verify);
    document.getElementById('sign-out')?.addEventListener('click', async () => {
      try {
        await api('DELETE', '/api/v1/session');
      } finally {
        window.location.assign('/login');
      }
    });
    drawCharts();
    document.body.dataset.ready = 'true';
  });
})();
