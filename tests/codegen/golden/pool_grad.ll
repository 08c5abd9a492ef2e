; ModuleID = "pool_grad"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal void @"pool_grad.body"(ptr noalias %"g", ptr noalias %"x", ptr noalias %"grad", ptr noalias %"workspace", ptr %"args", i64 %"threads") nounwind
{
entry:
  %"r0.acc" = alloca double
  br label %"i.cond"
i.cond:
  %"i" = phi  i64 [0, %"entry"], [%"i.next", %"i.body"]
  %".9" = icmp slt i64 %"i", 9
  br i1 %".9", label %"i.body", label %"i.end"
i.body:
  %".11" = srem i64 %"i", 3
  %".12" = icmp slt i64 %".11", 0
  %".13" = sdiv i64 %"i", 3
  %".14" = srem i64 %"i", 3
  %".15" = zext i1 %".12" to i64
  %".16" = sub i64 %".13", %".15"
  %".17" = mul nuw nsw i64 %".16", 3
  %".18" = srem i64 %"i", 3
  %".19" = icmp slt i64 %".18", 0
  %".20" = sdiv i64 %"i", 3
  %".21" = srem i64 %"i", 3
  %".22" = add i64 %".21", 3
  %".23" = select  i1 %".19", i64 %".22", i64 %".21"
  %".24" = add nuw nsw i64 %".17", %".23"
  %".25" = getelementptr inbounds double, ptr %"grad", i64 %".24"
  store double              0x0, ptr %".25", align 8
  %"i.next" = add nuw nsw i64 %"i", 1
  br label %"i.cond"
i.end:
  br label %"i.cond.1"
i.cond.1:
  %"i.1" = phi  i64 [0, %"i.end"], [%"i.next.1", %"j.end"]
  %".29" = icmp slt i64 %"i.1", 2
  br i1 %".29", label %"i.body.1", label %"i.end.1"
i.body.1:
  br label %"j.cond"
i.end.1:
  ret void
j.cond:
  %"j" = phi  i64 [0, %"i.body.1"], [%"j.next", %"k.end"]
  %".32" = icmp slt i64 %"j", 2
  br i1 %".32", label %"j.body", label %"j.end"
j.body:
  br label %"k.cond"
j.end:
  %"i.next.1" = add nuw nsw i64 %"i.1", 1
  br label %"i.cond.1"
k.cond:
  %"k" = phi  i64 [0, %"j.body"], [%"k.next", %"l.end"]
  %".35" = icmp slt i64 %"k", 2
  br i1 %".35", label %"k.body", label %"k.end"
k.body:
  br label %"l.cond"
k.end:
  %"j.next" = add nuw nsw i64 %"j", 1
  br label %"j.cond"
l.cond:
  %"l" = phi  i64 [0, %"k.body"], [%"l.next", %"r0.end"]
  %".38" = icmp slt i64 %"l", 2
  br i1 %".38", label %"l.body", label %"l.end"
l.body:
  %".40" = add i64 %"i.1", %"k"
  %".41" = mul nuw nsw i64 %".40", 3
  %".42" = add i64 %"j", %"l"
  %".43" = add nuw nsw i64 %".41", %".42"
  %".44" = getelementptr inbounds double, ptr %"x", i64 %".43"
  %".45" = load double, ptr %".44", align 8
  store double 0xfff0000000000000, double* %"r0.acc"
  br label %"r0.cond"
l.end:
  %"k.next" = add nuw nsw i64 %"k", 1
  br label %"k.cond"
r0.cond:
  %"r0" = phi  i64 [0, %"l.body"], [%"r0.next", %"r0.body"]
  %".48" = icmp slt i64 %"r0", 4
  br i1 %".48", label %"r0.body", label %"r0.end"
r0.body:
  %".50" = srem i64 %"r0", 2
  %".51" = icmp slt i64 %".50", 0
  %".52" = sdiv i64 %"r0", 2
  %".53" = srem i64 %"r0", 2
  %".54" = zext i1 %".51" to i64
  %".55" = sub i64 %".52", %".54"
  %".56" = add i64 %"i.1", %".55"
  %".57" = mul nuw nsw i64 %".56", 3
  %".58" = srem i64 %"r0", 2
  %".59" = icmp slt i64 %".58", 0
  %".60" = sdiv i64 %"r0", 2
  %".61" = srem i64 %"r0", 2
  %".62" = add i64 %".61", 2
  %".63" = select  i1 %".59", i64 %".62", i64 %".61"
  %".64" = add i64 %"j", %".63"
  %".65" = add nuw nsw i64 %".57", %".64"
  %".66" = getelementptr inbounds double, ptr %"x", i64 %".65"
  %".67" = load double, ptr %".66", align 8
  %".68" = load double, double* %"r0.acc"
  %".69" = call double @"llvm.maximum.f64"(double %".68", double %".67")
  store double %".69", double* %"r0.acc"
  %"r0.next" = add nuw nsw i64 %"r0", 1
  br label %"r0.cond"
r0.end:
  %".72" = load double, double* %"r0.acc"
  %".73" = fcmp oeq double %".45", %".72"
  %".74" = mul nuw nsw i64 %"i.1", 2
  %".75" = add nuw nsw i64 %".74", %"j"
  %".76" = getelementptr inbounds double, ptr %"g", i64 %".75"
  %".77" = load double, ptr %".76", align 8
  %".78" = select  i1 %".73", double %".77", double              0x0
  %".79" = mul nuw nsw i64 %".40", 3
  %".80" = add nuw nsw i64 %".79", %".42"
  %".81" = getelementptr inbounds double, ptr %"grad", i64 %".80"
  %".82" = load double, ptr %".81", align 8
  %".83" = fadd double %".82", %".78"
  store double %".83", ptr %".81", align 8
  %"l.next" = add nuw nsw i64 %"l", 1
  br label %"l.cond"
}

declare double @"llvm.maximum.f64"(double %".1", double %".2")

define void @"kernel.pool_grad"(ptr %"args") nounwind
{
entry:
  %".3" = getelementptr i64, ptr %"args", i64 4
  %"threads" = load i64, ptr %".3"
  %".4" = getelementptr ptr, ptr %"args", i64 0
  %"g" = load ptr, ptr %".4"
  %".5" = getelementptr ptr, ptr %"args", i64 1
  %"x" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 2
  %"grad" = load ptr, ptr %".6"
  %".7" = getelementptr ptr, ptr %"args", i64 3
  %"workspace" = load ptr, ptr %".7"
  call void @"pool_grad.body"(ptr %"g", ptr %"x", ptr %"grad", ptr %"workspace", ptr %"args", i64 %"threads")
  ret void
}
