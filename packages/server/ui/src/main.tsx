import { render } from 'preact';
import './styles.css';

function Root() {
  const portal = location.pathname.startsWith('/portal');
  return <main><h1>{portal ? 'Hookwell portal' : 'Hookwell dashboard'}</h1></main>;
}

render(<Root />, document.getElementById('root')!);
