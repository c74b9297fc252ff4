import { listUsers } from '../../access/index.ts';
import { html } from '../html.ts';
import { instant, statusBadge } from './format.ts';
import type { ConsolePage } from './page.ts';

export const usersPage: ConsolePage = {
  path: '/users',
  permission: 'manage_users',
  nav: { label: 'Users', href: '/users' },
  async render({ deps }) {
    const users = await listUsers(deps.pool);
    return {
      title: 'Users',
      body: html` <table class="data" aria-label="Users">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Last sign-in</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            ${users.map(
              (user) =>
                html`<tr>
                  <td>${user.username}</td>
                  <td>${user.role}</td>
                  <td>${statusBadge(user.status)}</td>
                  <td>${instant(user.createdAt)} by ${user.createdBy}</td>
                  <td>${instant(user.lastLoginAt)}</td>
                  <td>
                    ${user.status === 'disabled' ? '' : html`<button type="button" data-user-action="disable" data-user="${user.username}">Disable</button>`}
                    ${user.status === 'locked' ? html`<button type="button" data-user-action="unlock" data-user="${user.username}">Unlock</button>` : ''}
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
        <form id="add-user-form" class="card narrow" aria-labelledby="add-user-heading">
          <h2 id="add-user-heading">Add a user</h2>
          <p>
            <label for="new-username">Username</label
            ><input id="new-username" name="username" required pattern="[a-z][a-z0-9._-]{1,63}" />
          </p>
          <p>
            <label for="new-role">Role</label
            ><select id="new-role" name="role">
              <option>viewer</option>
              <option>reviewer</option>
              <option>admin</option>
            </select>
          </p>
          <p>A password is generated and shown once.</p>
          <p><button type="submit">Add</button></p>
        </form>
        <p id="new-password" role="status" aria-live="polite"></p>`,
    };
  },
};
