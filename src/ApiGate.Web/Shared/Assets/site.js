// The only script of the web pages: copy buttons and confirmations. Pages work without it.
document.addEventListener('click', function (event) {
  var button = event.target.closest('[data-copy]');
  if (!button) {
    return;
  }
  var source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) {
    return;
  }
  var text = (source.value !== undefined ? source.value : source.textContent).trim();
  var done = function () {
    button.setAttribute('data-copied', 'true');
    var label = button.querySelector('.copy-label') || button;
    label.textContent = 'Copied';
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { fallback(source, done); });
  } else {
    fallback(source, done);
  }
});

function fallback(source, done) {
  var range = document.createRange();
  range.selectNodeContents(source);
  var selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  if (document.execCommand('copy')) {
    done();
  }
}

document.addEventListener('submit', function (event) {
  var submitter = event.submitter;
  var message = (submitter && submitter.getAttribute('data-confirm')) || event.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
