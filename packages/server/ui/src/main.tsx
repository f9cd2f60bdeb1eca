import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { Portal } from './portal';
import { Dashboard } from './dashboard/dashboard';
import { followSystemTheme } from './theme';

// One bundle serves both pages; the path says which.
const portal = location.pathname.replace(/\/+$/, '') === '/portal';
document.title = portal ? 'Webhooks portal' : 'Hookwell dashboard';
followSystemTheme();
render(portal ? <Portal /> : <Dashboard />, document.getElementById('root')!);
