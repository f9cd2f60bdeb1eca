const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

export interface Theme {
  mode: 'light' | 'dark' | null;
  primary: string | null;
  logo: string | null;
}

/** Query parameters win over the application's metadata; invalid values are ignored. */
export function readTheme(metadata: Record<string, string> | undefined): Theme {
  const q = new URLSearchParams(location.search);
  const pick = (param: string, key: string) => q.get(param) ?? metadata?.[key] ?? null;
  const mode = pick('theme', 'portal.theme');
  const primary = pick('primaryColor', 'portal.primaryColor');
  const logo = pick('logo', 'portal.logo');
  return {
    mode: mode === 'light' || mode === 'dark' ? mode : null,
    primary: primary !== null && HEX.test(primary) ? primary : null,
    logo: logo !== null && isHttpsUrl(logo) ? logo : null,
  };
}

function isHttpsUrl(s: string): boolean {
  try {
    return new URL(s).protocol === 'https:';
  } catch {
    return false;
  }
}

function luminance(hex: string): number {
  const h = hex.length === 4 ? hex.replace(/^#(.)(.)(.)$/, '#$1$1$2$2$3$3') : hex;
  const ch = [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * ch[0]! + 0.7152 * ch[1]! + 0.0722 * ch[2]!;
}

let chosen = false;

/**
 * Light or dark as the system prefers, until a theme is chosen (applyTheme): one set of dark
 * colours in the CSS, under [data-theme='dark'], serves both.
 */
export function followSystemTheme(): void {
  const dark = window.matchMedia('(prefers-color-scheme: dark)');
  const follow = () => {
    if (!chosen) document.documentElement.dataset.theme = dark.matches ? 'dark' : 'light';
  };
  follow();
  dark.addEventListener('change', follow);
}

/** Applies the theme through CSS custom properties (set from script: allowed by the CSP). */
export function applyTheme(t: Theme): void {
  const root = document.documentElement;
  if (t.mode !== null) {
    chosen = true;
    root.dataset.theme = t.mode;
  }
  if (t.primary !== null) {
    root.style.setProperty('--primary', t.primary);
    // Text on the primary colour: whichever of black and white contrasts more.
    root.style.setProperty('--on-primary', luminance(t.primary) > 0.179 ? '#000000' : '#ffffff');
  }
}
