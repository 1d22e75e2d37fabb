"""The landing page's stylesheet and its script (render/html.py inlines both: the
page loads no external assets). The endpoints table's layout is fixed, each column
sized here, so no certificate's or URL's text can push the Status column and the
Copy buttons out of the window. Below 1200 px it tightens; below 1000 px it hides
the two secondary check columns (width 0, not display:none: the rows' colspan
still counts them, and a missing column would take a share of the URL's width);
below about 650 px it scrolls inside its wrapper. A command never breaks inside
a word (CSS alone would break ``Set-|AuthConfig`` at its hyphen): the script puts
each word in a ``.w`` span that does not wrap, so lines break only at spaces and a
word longer than the line scrolls; without the script a command stays on one line
and scrolls. The text, and so what Copy copies, is the same either way, and the
page's HTML carries each command whole.
"""

from __future__ import annotations

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2329;
background:#f5f6f8}
header{background:#1f3b5a;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85}main{padding:16px 24px}a{color:#1f5fa8}
.summary span{display:inline-block;margin-right:14px;font-weight:600}
.legend{margin:8px 0;color:#444;font-size:13px}.legend .narrow{display:none}
.table-wrap{overflow-x:auto;margin:12px 0}
table{border-collapse:collapse;width:100%;background:#fff;margin:12px 0}.table-wrap table{margin:0}
#endpoints{table-layout:fixed}#endpoints td{vertical-align:baseline}
th,td{padding:6px 8px;border-bottom:1px solid #e1e4e8;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}th[title]{cursor:help}
th[title] span{border-bottom:1px dotted #8a96a3}
th.c-server{width:5.6em}th.c-component{width:8.6em}th.c-check{width:4.8em}th.c-revoked{width:5.8em}
th.c-days{width:4.2em}th.c-status{width:7.4em}
td.url{font-family:ui-monospace,Consolas,monospace;font-size:12px;overflow-wrap:break-word}
td.check,td.days{white-space:nowrap}
.ok{color:#17703a}.fail{color:#b3261e;font-weight:700}.na{color:#888}
tr.status-critical td.status,.s-critical{color:#fff;background:#b3261e}
tr.status-warning td.status,.s-warning{background:#f2c037}
tr.status-unknown td.status,.s-unknown{color:#fff;background:#6b4fa1}
tr.status-ok td.status,.s-ok{color:#fff;background:#17703a}
td.days-critical{color:#fff;background:#b3261e;font-weight:700}
td.days-warning{background:#f2c037;font-weight:700}
td.status{font-weight:700;text-transform:uppercase;text-align:center}
tr.details td{background:#fbfbfc;border-bottom:2px solid #d0d5db;overflow-wrap:break-word}
.reason{margin:2px 0}.fix{display:flex;gap:8px;align-items:flex-start;margin:6px 0}
pre{margin:0;padding:6px 8px;background:#20262e;color:#e8eaed;font-size:12px;
white-space:pre;overflow-x:auto;flex:1 1 0;min-width:0}
pre.words{white-space:pre-wrap;word-break:normal;overflow-wrap:normal}pre .w{white-space:pre}
button.copy{flex:none;cursor:pointer;padding:4px 10px;border:1px solid #1f5fa8;background:#fff;
color:#1f5fa8;border-radius:3px}
.advice{margin:6px 0;padding:6px 8px;background:#fff7e0;border-left:3px solid #f2c037}
.cert{margin:6px 0 0;color:#555;font-size:12px}
.server{flex:none;display:inline-block;min-width:6em;font-weight:700;color:#1f3b5a}
tr.namespace td{background:#e4e9ef;border-top:2px solid #b9c3ce;font-size:13px;
overflow-wrap:break-word}
.banner{margin:0 0 12px;padding:8px 12px;color:#fff;background:#b3261e}
.banner ul{margin:6px 0 0;padding-left:20px}.banner code{font-size:12px;overflow-wrap:anywhere}
footer{padding:8px 24px 24px;color:#666}
@media (max-width:1199px){
main{padding:12px}header{padding:12px}#endpoints{font-size:13px}
#endpoints th,#endpoints td{padding:5px}td.status{font-size:12px}
}
@media (max-width:999px){
#endpoints{min-width:620px}.legend .narrow{display:inline}
#endpoints .c-secondary{width:0;padding:0;border-left:0;border-right:0;overflow:hidden;
visibility:hidden;font-size:0}
th.c-server{width:5.4em}th.c-component{width:7.4em}th.c-check{width:4.4em}
th.c-days{width:3.6em}th.c-status{width:6.6em}
}
"""

JS = """
document.querySelectorAll('pre').forEach(function(p){
 var words=p.textContent.split(' ');p.textContent='';
 words.forEach(function(w,i){if(i){p.appendChild(document.createTextNode(' '));}
 var s=document.createElement('span');s.className='w';s.textContent=w;p.appendChild(s);});
 p.classList.add('words');});
document.querySelectorAll('button.copy').forEach(function(b){b.addEventListener('click',function(){
 var t=document.getElementById(b.dataset.target).textContent;
 function done(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy';},2000);}
 if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t).then(done);}
 else{var a=document.createElement('textarea');a.value=t;document.body.appendChild(a);a.select();
 document.execCommand('copy');a.remove();done();}});});
"""
