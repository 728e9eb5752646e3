// The page's HTML: a shell the bundled script fills; nothing inline (the Content-Security-Policy
// allows scripts and styles from the server only).
export function pageHTML(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>podpath ui</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<noscript>podpath ui needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;
}
