// The entry point: read the page's data and draw the explain page or the replay.
const DATA = JSON.parse(document.getElementById("cr-data").textContent);
(DATA.kind === "replay" ? renderReplay : renderExplain)(document.getElementById("app"), DATA);
